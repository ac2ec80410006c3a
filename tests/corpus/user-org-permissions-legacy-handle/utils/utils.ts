// Source: KeeganBeuthin/kinde-workflow-test utils/utils.ts @ c05504992ff5d6cd8bb6953cf3855504618ba5c7 (ISC)
const settings = {
    output: '123'
}

export {
    settings
}